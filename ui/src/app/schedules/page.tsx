import { Schedules } from "@/components/schedules/Schedules";

export default function SchedulesPage() {
  return <Schedules />;
}
