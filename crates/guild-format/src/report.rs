//! How the library speaks while it works: progress lines, warnings and
//! questions go to a [`Reporter`] the caller provides. The CLI prints them
//! on stderr and asks on stdin; a server streams them; [`Collect`] keeps
//! them (tests, and callers that show them later).

use crate::error::Result;
use std::sync::Mutex;

/// What a command asks before it changes something.
pub enum Question<'a> {
    /// Go ahead and `verb` these runs (`delete`, `stop`, `mark`...)?
    Runs {
        /// What is to be done to the runs (`delete`, `stop`...).
        verb: &'a str,
        /// The runs, with their listing index.
        runs: &'a [crate::query::Indexed],
        /// The answer when the user just presses Enter.
        default_yes: bool,
    },
    /// Anything else, worded: what it is about, then the question.
    Text {
        /// What the question is about, shown before it (may be several lines).
        details: String,
        /// The question (`Continue?`).
        question: String,
        /// The answer when the user just presses Enter.
        default_yes: bool,
    },
}

/// The caller's side of a library call.
pub trait Reporter: Send + Sync {
    /// A progress line, as Guild words it (`Resolving file:data.csv`,
    /// `INFO: [guild] Running trial ...`).
    fn progress(&self, line: &str);
    /// A warning line, with its `WARNING: ` prefix where Guild has one.
    fn warning(&self, line: &str);
    /// Ask whether to go ahead. A caller that cannot ask answers for the
    /// user (a request with `yes` set never gets here).
    fn confirm(&self, question: &Question) -> Result<bool>;
}

/// Keeps every line; answers every question with `answer`.
#[derive(Debug, Default)]
pub struct Collect {
    lines: Mutex<Vec<String>>,
    answer: bool,
}

impl Collect {
    /// A reporter that answers yes (a caller that decided beforehand).
    pub fn answering_yes() -> Collect {
        Collect {
            lines: Mutex::default(),
            answer: true,
        }
    }

    /// The lines reported so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().map(|l| l.clone()).unwrap_or_default()
    }

    fn push(&self, line: &str) {
        if let Ok(mut l) = self.lines.lock() {
            l.push(line.to_string());
        }
    }
}

impl Reporter for Collect {
    fn progress(&self, line: &str) {
        self.push(line);
    }
    fn warning(&self, line: &str) {
        self.push(line);
    }
    fn confirm(&self, question: &Question) -> Result<bool> {
        match question {
            Question::Runs { verb, runs, .. } => {
                self.push(&format!("{verb} {} run(s)?", runs.len()))
            }
            Question::Text { question, .. } => self.push(question),
        }
        Ok(self.answer)
    }
}
