/**
 * @module The one error type of the HTTP API and its catalogue of stable codes.
 *
 * Handlers and domain code throw `AppError`; `renderError` in api/app.ts is the only place that
 * turns an error into a response body.
 */
import type { ContentfulStatusCode } from "hono/utils/http-status";

/** Stable, machine-readable error codes. Messages may change; codes are API. */
export const ErrorCode = {
  invalid_json: "The request body is not valid JSON.",
  invalid_request: "The request is invalid.",
  sync_limit_exceeded: "Too many synced items are stored for this user.",
  body_too_large: "The request body is too large.",
  invalid_csr: "The certificate signing request is invalid.",
  unsupported_key_type: "The key type or size is not supported.",
  invalid_credentials: "The username or password is wrong.",
  too_many_attempts: "Too many failed logins; wait before trying again.",
  credentials_required: "Credentials are required.",
  conflicting_credentials: "The request carries more than one identity.",
  client_certificate_required: "A TLS client certificate is required.",
  foreign_certificate: "The client certificate was not issued by this server.",
  certificate_expired: "The client certificate has expired.",
  device_revoked: "This device has been revoked.",
  device_key_in_use: "This device key is enrolled for another user.",
  user_disabled: "This user is disabled.",
  user_revoked: "This user was revoked.",
  cannot_revoke_self: "Administrators cannot revoke themselves.",
  not_authenticated: "A valid bearer token is required.",
  forbidden: "This token does not allow the request.",
  not_found: "Not found.",
  device_not_found: "No such device for this user.",
  name_not_found: "Name not found.",
  address_not_found: "Address not found.",
  invalid_name: "The name is invalid.",
  invalid_address: "The address must be 40 hexadecimal characters.",
  user_exists: "A user with this name already exists.",
  invalid_username: "The username is invalid.",
  not_installed: "The server is not set up yet; finish the setup first.",
  already_installed: "The server is already set up.",
  setup_in_progress: "Setup was already started by another administrator.",
  step_out_of_order: "This setup step cannot run yet.",
  invalid_ca: "The CA certificate or key is invalid.",
  unsupported_auth_type: "This user source is not supported.",
  invalid_settings: "The settings are invalid.",
  directory_unavailable: "The user directory cannot be reached or refused the lookup; try again later.",
  directory_not_configured: "No directory is configured: the user source is LOCAL.",
  password_in_directory: "This user's password is kept in the directory; change it there.",
  user_source_change_unsupported: "The user source cannot change after setup.",
  internal_error: "Internal server error; the server log has the details.",
} as const;

export type ErrorCodeName = keyof typeof ErrorCode;

/** An error with the HTTP status and code it must be reported with. */
export class AppError extends Error {
  readonly status: ContentfulStatusCode;
  readonly code: ErrorCodeName;
  readonly details: unknown;

  constructor(
    status: ContentfulStatusCode,
    code: ErrorCodeName,
    message?: string,
    options: { details?: unknown; cause?: unknown } = {},
  ) {
    super(message ?? ErrorCode[code], { cause: options.cause });
    this.name = "AppError";
    this.status = status;
    this.code = code;
    this.details = options.details;
  }
}

/** Builds a 400 error. */
export function badRequest(code: ErrorCodeName, message?: string, details?: unknown): AppError {
  return new AppError(400, code, message, { details });
}

/** Builds a 401 error. A Jami client reading 401 on login deletes its identity: use with care. */
export function unauthorized(code: ErrorCodeName, message?: string): AppError {
  return new AppError(401, code, message);
}

/** Builds a 403 error. */
export function forbidden(code: ErrorCodeName, message?: string): AppError {
  return new AppError(403, code, message);
}

/** Builds a 404 error. */
export function notFound(code: ErrorCodeName, message?: string): AppError {
  return new AppError(404, code, message);
}

/** Builds a 409 error. */
export function conflict(code: ErrorCodeName, message?: string, details?: unknown): AppError {
  return new AppError(409, code, message, { details });
}
