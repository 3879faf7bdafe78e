//! Timed, nested progress lines on stderr, so a long step shows where it is and what took the time.

use std::time::Instant;

pub struct Step {
    name: String,
    depth: usize,
    start: Instant,
}

impl Step {
    pub fn start(name: impl Into<String>) -> Self {
        Self::nested(name, 0)
    }

    pub fn child(&self, name: impl Into<String>) -> Self {
        Self::nested(name, self.depth + 1)
    }

    fn nested(name: impl Into<String>, depth: usize) -> Self {
        let name = name.into();
        eprintln!("{}==> {name}", "  ".repeat(depth));
        Self {
            name,
            depth,
            start: Instant::now(),
        }
    }

    /// A one-line note under this step.
    pub fn note(&self, text: impl AsRef<str>) {
        eprintln!("{}    {}", "  ".repeat(self.depth), text.as_ref());
    }

    pub fn done(self) {
        eprintln!(
            "{}<== {} ({:.1}s)",
            "  ".repeat(self.depth),
            self.name,
            self.start.elapsed().as_secs_f64()
        );
    }
}
