import type { BuildStatus } from '../client/status';
import { formatBytes } from '../client/populate';
import { Html, html } from './html';

const W = 720;
const H = 200;
const PAD = { left: 70, right: 16, top: 14, bottom: 40 };

/**
 * Bytes per retained build over time, as an inline SVG bar chart: oldest left, one bar per build
 * in time order (builds minutes apart would overlap on a true time axis), the live build green,
 * those the next prune deletes red. Builds whose size is unknown (valpop's) get no bar.
 */
export function bytesChart(builds: readonly BuildStatus[]): Html {
  const ordered = [...builds].sort((a, b) => a.timestamp - b.timestamp);
  if (ordered.length === 0) return html`<p class="muted">No builds to chart.</p>`;
  const max = Math.max(1, ...ordered.map((b) => b.bytes ?? 0));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const slot = plotW / ordered.length;
  const barW = Math.max(2, Math.min(48, slot * 0.7));
  const labelEvery = Math.ceil(ordered.length / 8);
  // Builds of one day are told apart by the time of day; longer spans need the date.
  const sameDay = ordered[ordered.length - 1].timestamp - ordered[0].timestamp < 86_400;
  const bars = ordered.map((b, i) => {
    const x = PAD.left + slot * i + (slot - barW) / 2;
    const h = b.bytes === null ? 0 : Math.max(1, (b.bytes / max) * plotH);
    const y = PAD.top + plotH - h;
    const cls = b.live ? 'live' : b.nextPrune.action === 'delete' ? 'del' : 'keep';
    const iso = new Date(b.timestamp * 1000).toISOString();
    const when = iso.replace('T', ' ').slice(0, 19);
    const title = `${when} UTC · ${b.image || '(no image)'} · ${b.bytes === null ? 'size unknown' : formatBytes(b.bytes)}`;
    const label =
      i % labelEvery === 0
        ? html`<text x="${(x + barW / 2).toFixed(1)}" y="${H - PAD.bottom + 16}" text-anchor="middle" class="axis">${sameDay ? when.slice(11, 19) : when.slice(5, 16)}</text>`
        : '';
    return html`<rect class="${cls}" x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${barW.toFixed(1)}" height="${h.toFixed(1)}"><title>${title}</title></rect>${label}`;
  });
  return html`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="bytes per build over time">
<style>.axis{font:11px system-ui,sans-serif;fill:#5b6676}.live{fill:#17813b}.del{fill:#d9534f}.keep{fill:#7d93b8}</style>
<line x1="${PAD.left}" y1="${PAD.top + plotH}" x2="${W - PAD.right}" y2="${PAD.top + plotH}" stroke="#bcc4d0"/>
<line x1="${PAD.left}" y1="${PAD.top}" x2="${PAD.left}" y2="${PAD.top + plotH}" stroke="#bcc4d0"/>
<text x="${PAD.left - 6}" y="${PAD.top + 4}" text-anchor="end" class="axis">${formatBytes(max)}</text>
<text x="${PAD.left - 6}" y="${PAD.top + plotH}" text-anchor="end" class="axis">0</text>
<text x="${PAD.left + plotW / 2}" y="${H - 6}" text-anchor="middle" class="axis">build time (UTC), oldest left · green live · red deleted by the next prune</text>
${bars}
</svg>`;
}
