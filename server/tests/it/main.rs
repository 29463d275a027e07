//! Integration tests: the real server on a random port, a fresh database per test.

mod support;

mod bad_input;
mod cli;
mod compat_accounts_api;
mod compat_bad_input;
mod compat_djoser;
mod compat_rest_jwt_auth;
mod django_import;
mod email_verification;
mod floods;
mod guessing_limits;
mod health;
mod link_lifecycle;
mod login;
mod lookalike_names;
mod mail_faults;
mod management;
mod markup_injection;
mod mfa;
mod observability;
mod openapi;
mod passwords;
mod principal_cache;
mod process;
mod profile;
mod registration;
mod seed_004;
mod sessions;
mod smtp;
mod throttling;
mod tls;
mod two_processes;
mod web;
mod web_account;
mod web_two_factor;
