// The AWS SDK for JavaScript v3 against s3bridge: node client.mjs ENDPOINT BUCKET KEY SECRET; prints JSON.
import { S3Client, CreateBucketCommand, PutObjectCommand, GetObjectCommand, ListObjectsV2Command, HeadObjectCommand, DeleteObjectsCommand, CopyObjectCommand } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { Upload } from "@aws-sdk/lib-storage";
import { Readable } from "node:stream";
import crypto from "node:crypto";
const endpoint = process.argv[2];
const s3 = new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId: process.argv[4], secretAccessKey: process.argv[5] }, maxAttempts: 1 });
const B = process.argv[3];
const out = [];
try {
  await s3.send(new CreateBucketCommand({ Bucket: B }));
  await s3.send(new PutObjectCommand({ Bucket: B, Key: "a b+c.txt", Body: "hello js", ContentType: "text/plain", Metadata: { k: "v" } }));
  const got = await s3.send(new GetObjectCommand({ Bucket: B, Key: "a b+c.txt", ChecksumMode: "ENABLED" }));
  out.push(["get", await got.Body.transformToString(), got.ChecksumCRC32, got.Metadata]);
  // stream body of unknown length -> aws-chunked with trailer
  const big = crypto.randomBytes(7 * 1024 * 1024);
  const up = new Upload({ client: s3, params: { Bucket: B, Key: "multi.bin", Body: Readable.from([big.subarray(0, 3e6), big.subarray(3e6)]) }, partSize: 5 * 1024 * 1024 });
  await up.done();
  const g2 = await s3.send(new GetObjectCommand({ Bucket: B, Key: "multi.bin" }));
  const back = Buffer.from(await g2.Body.transformToByteArray());
  out.push(["multipart equal", back.equals(big), g2.ETag]);
  await s3.send(new PutObjectCommand({ Bucket: B, Key: "stream.bin", Body: Readable.from([big.subarray(0, 1000), big.subarray(1000, 5000)]), ContentLength: 5000 }));
  const g3 = await s3.send(new HeadObjectCommand({ Bucket: B, Key: "stream.bin" }));
  out.push(["stream put size", g3.ContentLength]);
  const url = await getSignedUrl(s3, new PutObjectCommand({ Bucket: B, Key: "presigned.txt" }), { expiresIn: 60 });
  out.push(["presign has crc", url.includes("x-amz-checksum-crc32"), url.includes("x-id=PutObject")]);
  const r = await fetch(url, { method: "PUT", body: "presigned body" });
  out.push(["presigned put", r.status, (await r.text()).slice(0, 200)]);
  const gurl = await getSignedUrl(s3, new GetObjectCommand({ Bucket: B, Key: "presigned.txt" }), { expiresIn: 60 });
  const r2 = await fetch(gurl);
  out.push(["presigned get", r2.status, await r2.text()]);
  const l = await s3.send(new ListObjectsV2Command({ Bucket: B }));
  out.push(["list", l.Contents.map(c => c.Key)]);
  await s3.send(new CopyObjectCommand({ Bucket: B, Key: "copy.txt", CopySource: `${B}/a b+c.txt` }));
  const d = await s3.send(new DeleteObjectsCommand({ Bucket: B, Delete: { Objects: l.Contents.map(c => ({ Key: c.Key })).concat([{ Key: "copy.txt" }]) } }));
  out.push(["deleted", d.Deleted.length, d.Errors]);
} catch (e) { out.push(["ERROR", e.name, e.message, e.$metadata]); }
console.log(JSON.stringify(out, null, 1));
