import { ComingSoon } from "../components/ComingSoon";

export default function InboxPage() {
  return (
    <ComingSoon
      title="Inbox"
      summary="The approval inbox, where you claim, approve or reject steps waiting for you, arrives in a later release."
    />
  );
}
