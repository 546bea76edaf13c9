/** The page served while the web page has not been built: says so, and where everything is. */
export function placeholderPage(options: { urls: Record<string, string>; authLines: readonly string[] }): string {
  const rows = Object.entries(options.urls)
    .map(([label, url]) => `<tr><th>${escapeHtml(label)}</th><td><code>${escapeHtml(url)}</code></td></tr>`)
    .join("\n");
  const auth = options.authLines.map((line) => `<p>${escapeHtml(line)}</p>`).join("\n");
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Chat sandbox</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:48rem}th{text-align:left;padding-right:1rem}
.dev{border:2px solid #b45309;background:#fffbeb;padding:0 1rem}</style></head>
<body>
<h1>Chat sandbox</h1>
<p>The web page is not built, so there is nothing to show here yet. The sandbox itself is running:</p>
<table>
${rows}
</table>
<div class="dev">
${auth}
</div>
</body>
</html>
`;
}

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (char) => ESCAPES[char] ?? char);
