/**
 * multipart/form-data for the one page form that uploads a file (the avatar on
 * /settings/profile): a browser without JavaScript can send a file no other way. The body is
 * already read, bounded by the route's limit; this splits it at the boundary into at most
 * MAX_PARTS parts and answers text fields as strings and file fields as bytes, so the CSRF
 * check finds `_csrf` as in any form.
 *
 * Written here rather than taken from a library: @fastify/multipart (and busboy under it) is not
 * among the project's dependencies, and one bounded, already-buffered form needs forty lines.
 */
import { AppError } from '../core/errors.ts';

const MAX_PARTS = 10;

export interface UploadedFile {
  filename: string;
  type: string;
  data: Buffer;
}

export function parseMultipart(body: Buffer, contentType: string): Record<string, string | UploadedFile> {
  const boundary = /boundary=(?:"([^"]{1,70})"|([^\s;]{1,70}))/i.exec(contentType);
  if (!boundary) throw new AppError('invalid_request', 'the form has no multipart boundary');
  const delimiter = Buffer.from(`--${boundary[1] ?? boundary[2]}`);
  const out: Record<string, string | UploadedFile> = Object.create(null);
  let at = body.indexOf(delimiter);
  if (at < 0) throw new AppError('invalid_request', 'the form is not multipart/form-data');
  for (let parts = 0; ; parts++) {
    at += delimiter.length;
    if (body.subarray(at, at + 2).toString('latin1') === '--') return out; // the closing delimiter
    if (parts >= MAX_PARTS) throw new AppError('invalid_request', `a form has at most ${MAX_PARTS} fields`);
    const headersEnd = body.indexOf('\r\n\r\n', at);
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delimiter]), at);
    if (headersEnd < 0 || next < 0 || headersEnd > next) throw new AppError('invalid_request', 'the form is cut short');
    const headers = body.subarray(at, headersEnd).toString('utf8');
    const data = body.subarray(headersEnd + 4, next);
    const disposition = /content-disposition:\s*form-data;([^\r\n]*)/i.exec(headers)?.[1] ?? '';
    const name = /\bname="([^"]{1,100})"/.exec(disposition)?.[1];
    const filename = /\bfilename="([^"]{0,255})"/.exec(disposition)?.[1];
    if (name && name !== '__proto__') {
      out[name] =
        filename !== undefined
          ? { filename, type: /content-type:\s*([^\r\n]+)/i.exec(headers)?.[1]?.trim() ?? 'application/octet-stream', data: Buffer.from(data) }
          : data.toString('utf8');
    }
    at = next + 2;
  }
}

/**
 * The bytes of the file field `name` of a parsed multipart form (an UploadedFile from
 * parseMultipart, or a Buffer from the statement upload's parser, src/banking/form-upload.ts);
 * else the AppError `missing`, naming the field: the field is absent, a text field, or an empty
 * file (unless `allowEmpty`).
 */
export function fileField(body: unknown, name: string, missing: string, options: { allowEmpty?: boolean } = {}): Buffer {
  const value = body !== null && typeof body === 'object' && Object.hasOwn(body, name) ? (body as Record<string, unknown>)[name] : undefined;
  const data = Buffer.isBuffer(value) ? value : isUploadedFile(value) ? value.data : undefined;
  if (!data || (data.length === 0 && !options.allowEmpty)) throw new AppError('invalid_request', missing, { field: name });
  return data;
}

function isUploadedFile(value: unknown): value is UploadedFile {
  return value !== null && typeof value === 'object' && Buffer.isBuffer((value as { data?: unknown }).data);
}
