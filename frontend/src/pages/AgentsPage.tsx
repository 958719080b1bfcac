import { ComingSoon } from "../components/ComingSoon";

export default function AgentsPage() {
  return (
    <ComingSoon
      title="Agents"
      summary="Managing LLM providers and agent definitions from the browser arrives in a later release."
    />
  );
}
