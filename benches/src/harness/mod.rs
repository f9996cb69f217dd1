//! The benchmark harness: experiments → records → store → reporters.
//!
//! [`experiments`] (one module per experiment, a registry) produce [`record`] values; the
//! [`executor`] obtains every (method, seed) cell — trained or resumed — for the [`runner`]
//! (`ufom bench`, with progress) and the [`cluster`] tasks alike; [`store`] writes atomically;
//! [`report`] turns saved records into JSON, Markdown, SVG and dashboard files.
pub mod analysis;
pub mod claims;
pub mod cluster;
pub mod env;
pub mod executor;
pub mod experiments;
pub mod interrupt;
pub mod jobs;
pub mod map;
pub mod methods;
pub mod perf;
pub mod record;
pub mod report;
pub mod runner;
pub mod store;
