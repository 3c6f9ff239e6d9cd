"use client";

import { QueryParamPage } from "@/components/QueryParamPage";
import { QueueView } from "@/components/queue/QueueView";

export default function QueuePage() {
  return <QueryParamPage param="name" missing="No queue given" render={(name) => <QueueView key={name} queue={name} />} />;
}
