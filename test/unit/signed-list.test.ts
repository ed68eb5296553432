import { parseListPage } from '../../src/storage/signed-list';

const page = (contents: string, tail = '<IsTruncated>false</IsTruncated>') =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>odd%2F</Prefix><EncodingType>url</EncodingType>${tail}${contents}</ListBucketResult>`;
const entry = (key: string, etag = '&quot;9b2cf535f27731c974343645a3985328&quot;') =>
  `<Contents><Key>${key}</Key><LastModified>2026-12-01T10:00:00.000Z</LastModified><ETag>${etag}</ETag><Size>42</Size><StorageClass>STANDARD</StorageClass></Contents>`;

describe('parseListPage', () => {
  it('decodes URL-encoded keys (a space as +, a plus as %2B) and unquotes ETags', () => {
    const { objects, next } = parseListPage(page(entry('odd%2Fsp+ace%2Bplus%25%F0%9F%98%80.js') + entry('odd%2Fa.js', '&#34;abc-2&#34;')));
    expect(objects).toEqual([
      { key: 'odd/sp ace+plus%😀.js', size: 42, lastModified: new Date('2026-12-01T10:00:00Z'), etag: '9b2cf535f27731c974343645a3985328' },
      { key: 'odd/a.js', size: 42, lastModified: new Date('2026-12-01T10:00:00Z'), etag: 'abc-2' },
    ]);
    expect(next).toBeUndefined();
  });

  it('reads keys as XML text when the store did not URL-encode them', () => {
    const xml = page(entry('odd/quo&apos;te&amp;=;.txt')).replace('<EncodingType>url</EncodingType>', '');
    expect(parseListPage(xml).objects[0].key).toBe("odd/quo'te&=;.txt");
  });

  it('gives the token of the next page, and refuses a cut-short page without one or an answer that is no listing', () => {
    expect(parseListPage(page(entry('k'), '<IsTruncated>true</IsTruncated><NextContinuationToken>1/a+b==</NextContinuationToken>')).next).toBe('1/a+b==');
    expect(() => parseListPage(page(entry('k'), '<IsTruncated>true</IsTruncated>'))).toThrow(/without a token/);
    expect(() => parseListPage('<html>proxy error</html>')).toThrow(/something else/);
    expect(parseListPage(page('')).objects).toEqual([]);
  });
});
