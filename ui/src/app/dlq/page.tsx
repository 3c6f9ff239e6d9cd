"use client";

import { DlqView } from "@/components/DlqView";
import { QueryParamPage } from "@/components/QueryParamPage";

export default function DlqPage() {
  return <QueryParamPage param="name" missing="No queue given" render={(name) => <DlqView key={name} queue={name} />} />;
}
