/** The API's limits on tags (workflows/api/serializers.py). */
export const MAX_TAGS = 20;
export const MAX_TAG_LENGTH = 50;

/** "support, Triage ,,support" → ["support", "Triage"]: trimmed, blanks dropped, first spelling kept. */
export function parseTags(text: string): string[] {
  const seen = new Set<string>();
  const tags: string[] = [];
  for (const part of text.split(",")) {
    const tag = part.replace(/\s+/g, " ").trim();
    const key = tag.toLowerCase();
    if (!tag || seen.has(key)) continue;
    seen.add(key);
    tags.push(tag);
  }
  return tags;
}
