/**
 * The one file upload of the pages (the admin's camt.053 statement): a multipart/form-data body
 * read into its fields, so the form works without JavaScript. Bounded by the route's body limit;
 * only plain fields and one file are read, nothing is written to disk.
 *
 * Written by hand: @fastify/multipart is not among the dependencies, and this form needs only
 * the `_csrf` field and the file's bytes (RFC 7578: parts split by the boundary, each with a
 * Content-Disposition naming it).
 */
export type FormParts = Record<string, string | Buffer>;

export function parseMultipart(body: Buffer, contentType: string): FormParts | undefined {
  const match = /boundary=(?:"([^"]{1,70})"|([^;\s]{1,70}))/i.exec(contentType);
  const boundary = match?.[1] ?? match?.[2];
  if (!boundary) return undefined;
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: FormParts = {};
  let at = body.indexOf(delimiter);
  if (at < 0) return undefined;
  for (let count = 0; count < 20; count++) {
    const start = at + delimiter.length;
    if (body.subarray(start, start + 2).toString() === '--') return parts;
    const next = body.indexOf(delimiter, start);
    if (next < 0) return undefined;
    const part = body.subarray(start + 2, next - 2); // after CRLF, before the CRLF of the next delimiter
    const headerEnd = part.indexOf('\r\n\r\n');
    if (headerEnd < 0) return undefined;
    const headers = part.subarray(0, headerEnd).toString('utf8');
    const name = /content-disposition:[^\r\n]*\bname="([^"]{1,100})"/i.exec(headers)?.[1];
    const isFile = /content-disposition:[^\r\n]*\bfilename="/i.test(headers);
    const data = part.subarray(headerEnd + 4);
    if (name && !(name in parts)) parts[name] = isFile ? Buffer.from(data) : data.toString('utf8');
    at = next;
  }
  return undefined;
}
