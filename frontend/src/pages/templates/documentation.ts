/**
 * A template's documentation is plain text with blank-line paragraphs and `code` spans; this
 * splits it into paragraphs of text and code pieces so the page renders it without HTML.
 */
export type Piece = { kind: "text" | "code"; text: string };

export function paragraphs(documentation: string): Piece[][] {
  return documentation
    .split(/\n\s*\n/)
    .map((paragraph) => paragraph.trim())
    .filter(Boolean)
    .map(pieces);
}

export function pieces(paragraph: string): Piece[] {
  const result: Piece[] = [];
  const parts = paragraph.split("`");
  // An odd number of backticks leaves the last one unmatched: it stays literal text.
  const closed = parts.length % 2 === 1 ? parts.length : parts.length - 1;
  parts.forEach((part, index) => {
    if (index >= closed) {
      result.push({ kind: "text", text: "`" + part });
      return;
    }
    if (!part) return;
    result.push({ kind: index % 2 === 1 ? "code" : "text", text: part });
  });
  return mergeText(result);
}

function mergeText(list: Piece[]): Piece[] {
  const merged: Piece[] = [];
  for (const piece of list) {
    const last = merged[merged.length - 1];
    if (last && last.kind === "text" && piece.kind === "text") last.text += piece.text;
    else merged.push({ ...piece });
  }
  return merged;
}
