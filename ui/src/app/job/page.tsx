"use client";

import { JobDetail } from "@/components/JobDetail";
import { QueryParamPage } from "@/components/QueryParamPage";

export default function JobPage() {
  return <QueryParamPage param="id" missing="No job given" render={(id) => <JobDetail key={id} id={id} />} />;
}
