//! Writing to standard output and error without ever panicking: `println!` panics when the
//! reader went away (`rkit plan | head -1`), and a panic mid-apply would stop the recording
//! of what was done. These macros drop what cannot be written and carry on.
//!
//! Both streams go through anstream: rkit's own colour codes are kept on a terminal and
//! stripped when the stream is not one, when `NO_COLOR` is set, or after `--no-color`
//! ([`no_color`]). Provider text never carries codes of its own (see [`crate::text`]).

use anstream::{AutoStream, ColorChoice};
use std::fmt;
use std::io::Write;
use std::sync::OnceLock;

/// Turns colour off for the rest of the process (`--no-color`); call before any output.
pub fn no_color() {
    ColorChoice::Never.write_global();
}

/// Each stream's colour choice, decided once (a terminal? `NO_COLOR`? `--no-color`?).
fn choice(stream: &'static OnceLock<ColorChoice>, of: impl FnOnce() -> ColorChoice) -> ColorChoice {
    *stream.get_or_init(of)
}

static STDOUT: OnceLock<ColorChoice> = OnceLock::new();
static STDERR: OnceLock<ColorChoice> = OnceLock::new();

/// `args` as text, colour codes stripped unless `choice` keeps them.
fn text(args: fmt::Arguments<'_>, choice: ColorChoice) -> String {
    let text = args.to_string();
    if choice == ColorChoice::Never && text.contains('\u{1b}') {
        anstream::adapter::strip_str(&text).to_string()
    } else {
        text
    }
}

/// Writes `args` to standard output, ignoring a closed or failing stream.
pub fn stdout(args: fmt::Arguments<'_>) {
    let raw = std::io::stdout();
    let choice = choice(&STDOUT, || AutoStream::choice(&raw));
    let mut out = raw.lock();
    let _ = out.write_all(text(args, choice).as_bytes());
    let _ = out.flush();
}

/// Writes `args` to standard error, ignoring a closed or failing stream.
pub fn stderr(args: fmt::Arguments<'_>) {
    let raw = std::io::stderr();
    let choice = choice(&STDERR, || AutoStream::choice(&raw));
    let _ = raw.lock().write_all(text(args, choice).as_bytes());
}

/// `print!` that never panics.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => { $crate::output::stdout(format_args!($($arg)*)) };
}

/// `println!` that never panics.
#[macro_export]
macro_rules! outln {
    () => { $crate::output::stdout(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::output::stdout(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `eprintln!` that never panics.
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => { $crate::output::stderr(format_args!("{}\n", format_args!($($arg)*))) };
}
