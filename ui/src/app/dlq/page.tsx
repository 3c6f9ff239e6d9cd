"use client";

import { DlqView } from "@/components/DlqView";
import { QueueParamPage } from "@/components/QueueParamPage";

export default function DlqPage() {
  return <QueueParamPage render={(name) => <DlqView key={name} queue={name} />} />;
}
