/** Characters no common file system accepts in a name, and control characters. */
// eslint-disable-next-line no-control-regex -- control characters are exactly what is removed
const UNSAFE_FILE_CHARACTERS = /[\u0000-\u001f\u007f/\\:*?"<>|]+/g;

/** `<name>.flowdeck.json`, the name made safe for a file system ("workflow" if nothing is left). */
export function exportFileName(workflowName: string): string {
  const safe = workflowName.replace(UNSAFE_FILE_CHARACTERS, "-").replace(/\s+/g, " ").trim().replace(/^\.+/, "");
  return `${safe.slice(0, 120) || "workflow"}.flowdeck.json`;
}

/** Hands a JSON document to the browser as a file download (no server round trip). */
export function downloadJson(fileName: string, data: unknown, doc: Document = document): void {
  const blob = new Blob([`${JSON.stringify(data, null, 2)}\n`], { type: "application/json" });
  const url = URL.createObjectURL(blob);
  const link = doc.createElement("a");
  link.href = url;
  link.download = fileName;
  link.hidden = true;
  doc.body.append(link);
  link.click();
  link.remove();
  // Revoked on the next task: the click has handed the blob to the download by then.
  setTimeout(() => URL.revokeObjectURL(url), 0);
}
