import { S3ResponseError } from './signed-put';

/** The unescaped text of the first `<tag>` in `xml`. */
export function textOf(xml: string, tag: string): string | undefined {
  const start = xml.indexOf(`<${tag}>`);
  if (start < 0) return undefined;
  const end = xml.indexOf(`</${tag}>`, start);
  if (end < 0) return undefined;
  return unescapeXml(xml.slice(start + tag.length + 2, end));
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function unescapeXml(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);/g, (_, e: string) =>
    e[0] === '#' ? String.fromCodePoint(e[1] === 'x' ? parseInt(e.slice(2), 16) : Number(e.slice(1))) : ENTITIES[e],
  );
}

/**
 * What an answer without the expected `<root>` element means. S3 may send the status of a copy
 * or a CompleteMultipartUpload before the work ends, so a failure after that arrives as an error
 * document in a 200 answer; its code decides whether it is worth another attempt, as the status
 * would have.
 */
export function failureInAnswer(xml: string, what: string): S3ResponseError {
  const code = textOf(xml, 'Code');
  if (code === undefined) return new S3ResponseError('InvalidResponse', `the store answered ${what} with something else: ${xml.slice(0, 200)}`, 502);
  return new S3ResponseError(code, textOf(xml, 'Message') ?? code, TRANSIENT_CODES.has(code) ? 503 : 400);
}

const TRANSIENT_CODES = new Set(['InternalError', 'ServiceUnavailable', 'SlowDown', 'RequestTimeout']);
