import { resolvePublishSettings, resolvePruneSettings } from '../../src/config';
import { decodeXmlEntities, oneLine } from '../../src/errors';

describe('messages a person reads', () => {
  it('says a negative number must not be negative, and anything else must be a whole number', () => {
    expect(() => resolvePublishSettings({ source: '/tmp', prefix: 'app', timeout: '-5' })).toThrow(/-t\/--timeout must not be negative/);
    expect(() => resolvePruneSettings({ minAssetRecords: '-1' })).toThrow(/-n\/--min-asset-records must not be negative/);
    expect(() => resolvePublishSettings({ source: '/tmp', prefix: 'app', timeout: '3.5' })).toThrow(/-t\/--timeout must be a whole number/);
    expect(() => resolvePublishSettings({ source: '/tmp', prefix: 'app', timeout: 'soon' })).toThrow(/-t\/--timeout must be a whole number/);
    expect(resolvePublishSettings({ source: '/tmp', prefix: 'app', timeout: ' 172800 ' }).timeout).toBe(172800);
  });

  it('shows the characters an S3 error body escaped, not their entities', () => {
    expect(decodeXmlEntities('The bucket &#39;a&#39; &amp; &quot;b&quot; &lt;c&gt; &#x41;')).toBe(`The bucket 'a' & "b" <c> A`);
    expect(decodeXmlEntities('no &bogus; entity &#0;')).toBe('no &bogus; entity &#0;');
    expect(oneLine(new Error('Access denied to &#39;frontend&#39;'))).toBe("Access denied to 'frontend'");
  });
});
