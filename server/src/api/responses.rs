//! The error responses that many operations share, for the OpenAPI document. Each names its
//! status, describes when it happens and uses the one error shape. They exist only to be
//! described, never constructed.
#![allow(dead_code)]

use utoipa::IntoResponses;

use super::error::ErrorEnvelope;

/// The body is not usable: malformed JSON, wrong types, missing or invalid fields.
#[derive(IntoResponses)]
#[response(status = 400)]
pub struct BadRequest(#[to_schema] ErrorEnvelope);

/// Missing, malformed, expired or revoked credentials.
#[derive(IntoResponses)]
#[response(status = 401, headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"api\"`")))]
pub struct Unauthorized(#[to_schema] ErrorEnvelope);

/// The caller may not do this (for a login: the email address is not confirmed yet).
#[derive(IntoResponses)]
#[response(status = 403)]
pub struct Forbidden(#[to_schema] ErrorEnvelope);

/// No such resource (or not one of the caller's).
#[derive(IntoResponses)]
#[response(status = 404)]
pub struct NotFound(#[to_schema] ErrorEnvelope);

/// A unique value (email, username) is taken.
#[derive(IntoResponses)]
#[response(status = 409)]
pub struct Conflict(#[to_schema] ErrorEnvelope);

/// The body is larger than `GATEHOUSE_MAX_BODY_BYTES`.
#[derive(IntoResponses)]
#[response(status = 413)]
pub struct PayloadTooLarge(#[to_schema] ErrorEnvelope);

/// The body is not `application/json`.
#[derive(IntoResponses)]
#[response(status = 415)]
pub struct UnsupportedMediaType(#[to_schema] ErrorEnvelope);

/// Too many failed attempts: wait `Retry-After` seconds.
#[derive(IntoResponses)]
#[response(status = 429, headers(("Retry-After" = u64, description = "Seconds to wait before trying again")))]
pub struct Throttled(#[to_schema] ErrorEnvelope);

/// The session owes its second factor (`mfa_required`), or the operation needs a session that
/// verified it (`aal2_required`).
#[derive(IntoResponses)]
#[response(status = 403)]
pub struct SecondFactor(#[to_schema] ErrorEnvelope);
