/**
 * How a sender signs a webhook delivery: `X-Flowdeck-Signature: t=<unix time>,v1=<hex
 * HMAC-SHA256 of "<t>.<raw body>">`, within 300 s of the server's clock (README "Triggers").
 */

/** Single-quotes a value for a POSIX shell. */
function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'"'"'`)}'`;
}

export function signingExample(url: string, secret: string): string {
  return [
    `secret=${shellQuote(secret)}`,
    `url=${shellQuote(url)}`,
    `body='{}'   # the run's inputs, as JSON`,
    "t=$(date +%s)",
    `sig=$(printf '%s.%s' "$t" "$body" | openssl dgst -sha256 -hmac "$secret" -hex | sed 's/^.* //')`,
    `curl -s -X POST "$url" -H 'Content-Type: application/json' \\`,
    `     -H "X-Flowdeck-Signature: t=$t,v1=$sig" -d "$body"`,
  ].join("\n");
}
