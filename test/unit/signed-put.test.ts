import { encodeKey } from '../../src/storage/signed-put';

describe('encodeKey', () => {
  it('percent-encodes each segment as S3 signs it, keeping / as the separator', () => {
    expect(encodeKey('data/app/a b+c(1)!*\'é.js')).toBe('data/app/a%20b%2Bc%281%29%21%2A%27%C3%A9.js');
    expect(encodeKey('data/app/~x_y-z.js')).toBe('data/app/~x_y-z.js');
  });
});
