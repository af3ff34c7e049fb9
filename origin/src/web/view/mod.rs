//! Pure view models for the pages: no storage, no requests. Each function turns stored records
//! (or odd event JSON) into plain strings and numbers a template prints; nothing here panics on
//! missing fields, wrong types or huge values, and every string a template shows is escaped there.

pub mod event;
pub mod setup;
pub mod svg;
pub mod text;
