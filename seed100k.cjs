const { BenchBucket } = require('./dist-bench/bench/bucket.js');
const fs = require('fs');
(async () => {
  const [bucketName, app] = process.argv.slice(2);
  const b = new BenchBucket('http://127.0.0.1:19000', { accessKeyId: 'pushcache', secretAccessKey: 'pushcache-dev-secret' });
  await b.create(bucketName);
  await b.seedFromTar(bucketName, `data/${app}/`, '/tmp/pushcache-bench/trees/tiny-s20261123-n100000-v1.tar');
  const files = fs.readdirSync('/tmp/pushcache-bench/trees/tiny-s20261123-n100000-v1', { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).map((d) => require('path').relative('/tmp/pushcache-bench/trees/tiny-s20261123-n100000-v1', require('path').join(d.parentPath, d.name)));
  const timestamp = Math.floor(Date.now() / 1000) - 3600;
  await b.put(bucketName, `manifests/${app}/${timestamp}`, JSON.stringify({ files, image: 'bench-seed', timestamp }));
  console.log('seeded', files.length, await b.count(bucketName, `data/${app}/`));
})();
