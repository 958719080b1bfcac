import { memo, useId } from "react";

import { SearchField } from "./SearchField";

interface WorkflowFilterBarProps {
  searchText: string;
  onSearchChange: (value: string) => void;
  owner: string;
  owners: readonly string[];
  onOwnerChange: (owner: string) => void;
  tag: string;
  tags: readonly string[];
  onTagChange: (tag: string) => void;
  showArchived: boolean;
  onShowArchivedChange: (showArchived: boolean) => void;
  currentUsername: string | null;
}

/** Search, owner, tag and archived filters; the page keeps each of them in the address. */
export const WorkflowFilterBar = memo(function WorkflowFilterBar({
  searchText,
  onSearchChange,
  owner,
  owners,
  onOwnerChange,
  tag,
  tags,
  onTagChange,
  showArchived,
  onShowArchivedChange,
  currentUsername,
}: WorkflowFilterBarProps) {
  const ownerId = useId();
  const tagId = useId();
  const archivedId = useId();
  return (
    <div className="filter-bar">
      <SearchField value={searchText} onChange={onSearchChange} label="Search workflows" placeholder="Search workflows" />
      <div className="filter-bar__field">
        <label htmlFor={ownerId}>Owner</label>
        <select id={ownerId} className="select" value={owner} onChange={(event) => onOwnerChange(event.target.value)}>
          <option value="">Anyone</option>
          {owners.map((username) => (
            <option key={username} value={username}>
              {username === currentUsername ? `Me (${username})` : username}
            </option>
          ))}
        </select>
      </div>
      <div className="filter-bar__field">
        <label htmlFor={tagId}>Tag</label>
        <select id={tagId} className="select" value={tag} onChange={(event) => onTagChange(event.target.value)}>
          <option value="">Any tag</option>
          {tags.map((name) => (
            <option key={name} value={name}>
              {name}
            </option>
          ))}
        </select>
      </div>
      <div className="filter-bar__toggle">
        <input
          id={archivedId}
          type="checkbox"
          checked={showArchived}
          onChange={(event) => onShowArchivedChange(event.target.checked)}
        />
        <label htmlFor={archivedId}>Archived</label>
      </div>
    </div>
  );
});
