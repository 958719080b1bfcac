import { ComingSoon } from "../components/ComingSoon";

export default function RunsPage() {
  return (
    <ComingSoon
      title="Runs"
      summary="A live list of every run, with node-by-node status, timings and cost, arrives in a later release."
    />
  );
}
