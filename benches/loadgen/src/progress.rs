//! A plain progress bar on stderr: redrawn in place on a terminal, one line every few seconds
//! otherwise (CI logs).

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A counter shown as `label [#####.....] done/total elapsed`.
#[derive(Clone)]
pub struct Progress(Arc<Inner>);

struct Inner {
    label: String,
    total: usize,
    done: AtomicUsize,
    finished: AtomicBool,
    started: Instant,
}

impl Progress {
    /// Starts drawing in the background.
    pub fn start(label: &str, total: usize) -> Self {
        let p = Self(Arc::new(Inner {
            label: label.to_string(),
            total,
            done: AtomicUsize::new(0),
            finished: AtomicBool::new(false),
            started: Instant::now(),
        }));
        let drawer = p.clone();
        tokio::spawn(async move {
            let tty = std::io::stderr().is_terminal();
            let every = if tty {
                Duration::from_millis(200)
            } else {
                Duration::from_secs(3)
            };
            loop {
                tokio::time::sleep(every).await;
                if drawer.0.finished.load(Ordering::Relaxed) {
                    break;
                }
                drawer.draw(tty);
            }
        });
        p
    }

    /// One more done.
    pub fn inc(&self) {
        self.0.done.fetch_add(1, Ordering::Relaxed);
    }

    /// The count.
    pub fn done(&self) -> usize {
        self.0.done.load(Ordering::Relaxed)
    }

    /// Sets the count.
    pub fn set(&self, done: usize) {
        self.0.done.store(done, Ordering::Relaxed);
    }

    /// Draws the final state and a newline.
    pub fn finish(&self) {
        if !self.0.finished.swap(true, Ordering::Relaxed) {
            self.draw(false);
        }
    }

    fn draw(&self, in_place: bool) {
        let done = self.0.done.load(Ordering::Relaxed);
        let total = self.0.total.max(1);
        let width = 30;
        let filled = (done.min(total) * width) / total;
        let bar: String = "#".repeat(filled) + &".".repeat(width - filled);
        let secs = self.0.started.elapsed().as_secs_f64();
        let line = format!(
            "{:<18} [{bar}] {done}/{} {secs:6.1}s",
            self.0.label, self.0.total
        );
        let mut err = std::io::stderr().lock();
        let _ = if in_place {
            write!(err, "\r{line}")
        } else {
            writeln!(err, "\r{line}")
        };
        let _ = err.flush();
    }
}
