//! The command line's [`Ui`]: lines to standard output, confirmation on standard input.
//!
//! A change runs only after an explicit `y`/`yes` typed at a terminal, or with `--yes`.
//! Without a terminal (a script, a pipe, CI) and without `--yes`, nothing is changed and the
//! message says to pass `--yes`: reading a piped "y" could confirm a change nobody saw.

use std::io::{BufRead, Write};

use crate::session::Ui;
use crate::tools::Change;

pub struct TerminalUi<R, W> {
    /// `--yes`: run changes without asking.
    pub yes: bool,
    /// Standard input is a terminal.
    pub interactive: bool,
    pub input: R,
    pub output: W,
}

impl<R: BufRead, W: Write> Ui for TerminalUi<R, W> {
    fn say(&mut self, line: &str) {
        // A closed stdout (e.g. `| head`) must not stop a confirmed change halfway.
        let _ = writeln!(self.output, "{line}");
    }

    fn confirm(&mut self, _change: &Change) -> bool {
        if self.yes {
            self.say("  (--yes: running it)");
            return true;
        }
        if !self.interactive {
            self.say(
                "  not run: standard input is not a terminal, so there is no one to confirm; pass --yes to run changes from a script",
            );
            return false;
        }
        let _ = write!(self.output, "  Run it? [y/N] ");
        let _ = self.output.flush();
        let mut answer = String::new();
        if self.input.read_line(&mut answer).is_err() {
            return false;
        }
        matches!(answer.trim().to_lowercase().as_str(), "y" | "yes")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::tools::{Change, ChangeAction};

    fn change() -> Change {
        Change {
            action: ChangeAction::Scale {
                deployment: "todo-api".into(),
                replicas: 5,
            },
            summary: "scale".into(),
            kubectl: "kubectl scale deployment/todo-api --replicas=5 -n todo".into(),
            warning: None,
        }
    }

    fn confirm(yes: bool, interactive: bool, typed: &str) -> (bool, String) {
        let mut ui = TerminalUi {
            yes,
            interactive,
            input: typed.as_bytes(),
            output: Vec::new(),
        };
        let answer = ui.confirm(&change());
        (answer, String::from_utf8(ui.output).unwrap())
    }

    #[test]
    fn only_a_typed_yes_or_the_flag_confirms() {
        assert!(confirm(false, true, "y\n").0);
        assert!(confirm(false, true, "YES\n").0);
        let (answer, shown) = confirm(false, true, "\n");
        assert!(!answer && shown.contains("Run it? [y/N]"), "{shown}");
        assert!(!confirm(false, true, "no\n").0);
        assert!(!confirm(false, true, "").0, "end of input is a no");
        assert!(confirm(true, false, "").0);
        let (answer, shown) = confirm(false, false, "y\n");
        assert!(!answer, "a piped y does not confirm");
        assert!(shown.contains("pass --yes"), "{shown}");
    }
}
