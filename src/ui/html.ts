/**
 * Building HTML safely: every value from the bucket or from Temporal (app names, images, reasons,
 * workflow IDs, error messages) goes through `esc` or `attr`; only this module's own markup is raw.
 */

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

export function esc(text: string | number): string {
  return String(text).replace(/[&<>"'`]/g, (c) => ENTITIES[c]);
}

/** Markup that is already safe; `html` passes it through instead of escaping it. */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

type Part = Html | string | number | undefined | null | false | readonly Part[];

function render(part: Part): string {
  if (part === undefined || part === null || part === false) return '';
  if (part instanceof Html) return part.value;
  if (Array.isArray(part)) return part.map(render).join('');
  return esc(part as string | number);
}

/** A template tag: interpolated values are escaped unless they are `Html`; arrays are joined. */
export function html(strings: TemplateStringsArray, ...values: Part[]): Html {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1];
  return new Html(out);
}

/** Only http(s) links are ever emitted: a configured UI URL cannot become `javascript:`. */
export function safeHref(url: string): string | undefined {
  try {
    const u = new URL(url);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : undefined;
  } catch {
    return undefined;
  }
}

const CSS = `
:root { color-scheme: light; --fg:#1d2430; --muted:#5b6676; --line:#dde2ea; --bg:#f6f8fb; --live:#17813b; --del:#b42318; --accent:#2457c5; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color:var(--fg); background:var(--bg); }
header { background:#fff; border-bottom:1px solid var(--line); padding:12px 24px; display:flex; gap:16px; align-items:baseline; flex-wrap:wrap; }
header h1 { font-size:18px; margin:0; }
header .meta { color:var(--muted); }
main { padding:16px 24px 40px; max-width:1280px; }
h2 { font-size:16px; margin:24px 0 8px; }
a { color:var(--accent); text-decoration:none; } a:hover { text-decoration:underline; }
table { border-collapse:collapse; width:100%; background:#fff; border:1px solid var(--line); }
th, td { text-align:left; padding:6px 10px; border-bottom:1px solid var(--line); vertical-align:top; }
th { background:#eef1f6; font-weight:600; white-space:nowrap; }
td.num, th.num { text-align:right; white-space:nowrap; font-variant-numeric:tabular-nums; }
code, .mono { font-family:ui-monospace, SFMono-Regular, Menlo, monospace; font-size:12.5px; word-break:break-all; }
.muted { color:var(--muted); }
.nowrap { white-space:nowrap; }
.badge { display:inline-block; padding:0 7px; border-radius:9px; font-size:12px; font-weight:600; white-space:nowrap; }
.b-live { background:#dcf5e3; color:var(--live); }
.b-del { background:#fde4e1; color:var(--del); }
.b-keep { background:#e8edf5; color:#3b4657; }
.b-ok { background:#dcf5e3; color:var(--live); }
.b-bad { background:#fde4e1; color:var(--del); }
.b-run { background:#e3ebfd; color:var(--accent); }
tr.del td { background:#fff7f6; }
tr.live td { background:#f3fbf5; }
.box { background:#fff; border:1px solid var(--line); padding:10px 14px; margin:8px 0; }
.error { background:#fde4e1; border:1px solid #f3b8b1; padding:10px 14px; }
.chart { background:#fff; border:1px solid var(--line); padding:8px; }
.chart svg { display:block; max-width:100%; height:auto; }
footer { color:var(--muted); padding:0 24px 24px; font-size:12px; }
`;

/** The page frame: no script, inline CSS only (the Content-Security-Policy forbids anything else). */
export function page(title: string, header: Html, body: Html, footer: Html): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
<header>${header}</header>
<main>${body}</main>
<footer>${footer}</footer>
</body>
</html>
`;
}
