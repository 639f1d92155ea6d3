//! Work spawned after an answer (the password reset e-mail goes after the answer, so a known
//! address is not slower than an unknown one). [`Background`] counts it, so shutdown (and a
//! test asserting that no e-mail went) can wait until none is left. tokio-util's `TaskTracker`
//! only waits once closed, and reopening it between waits races with a concurrent waiter; a
//! counter and a `Notify` wait any number of times.

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use tokio::sync::Notify;

/// The tasks spawned after an answer, counted.
#[derive(Clone, Default)]
pub struct Background {
    running: Arc<AtomicUsize>,
    done: Arc<Notify>,
}

impl Background {
    /// Runs `work` on its own task.
    pub fn spawn(&self, work: impl Future<Output = ()> + Send + 'static) {
        self.running.fetch_add(1, Ordering::SeqCst);
        let (running, done) = (self.running.clone(), self.done.clone());
        tokio::spawn(async move {
            work.await;
            running.fetch_sub(1, Ordering::SeqCst);
            done.notify_waiters();
        });
    }

    /// Returns once no spawned task is left.
    pub async fn idle(&self) {
        loop {
            let finished = self.done.notified();
            if self.running.load(Ordering::SeqCst) == 0 {
                return;
            }
            finished.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn idle_waits_for_every_spawned_task() {
        let background = Background::default();
        let flag = Arc::new(AtomicUsize::new(0));
        for _ in 0..3 {
            let flag = flag.clone();
            background.spawn(async move {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                flag.fetch_add(1, Ordering::SeqCst);
            });
        }
        background.idle().await;
        assert_eq!(flag.load(Ordering::SeqCst), 3);
    }
}
