"use client";

import { QueueParamPage } from "@/components/QueueParamPage";
import { QueueView } from "@/components/queue/QueueView";

export default function QueuePage() {
  return <QueueParamPage render={(name) => <QueueView key={name} queue={name} />} />;
}
