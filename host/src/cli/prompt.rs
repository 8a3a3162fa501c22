//! The one prompt: a yes/no question on standard output, answered on standard input. Only
//! `yes` is yes. Used for confirming an apply or a destroy and for approving providers.

use std::io::{BufRead, IsTerminal};

/// Whether a person can answer (standard input is a terminal).
pub fn can_ask() -> bool {
    std::io::stdin().is_terminal()
}

/// Asks `question`; `Ok(true)` only for `yes`. `Err` when standard input is closed without an
/// answer (no one to ask), with `how` saying what to pass instead.
pub fn yes(question: &str, how: &str) -> anyhow::Result<bool> {
    crate::out!("{question} Only 'yes' will be accepted: ");
    let mut answer = String::new();
    let read = std::io::stdin().lock().read_line(&mut answer)?;
    if read == 0 && !can_ask() {
        anyhow::bail!("no answer on standard input; {how}");
    }
    Ok(answer.trim() == "yes")
}
