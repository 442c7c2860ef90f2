//! Answers remembered per thread: matching asks the same questions about the same lines many times (each
//! line pair the aligner tries, each candidate of a `...`), and each answer costs regex work.

use std::cell::RefCell;
use std::collections::HashMap;

/// The answers of a pure function of a string, up to `limit` of them; past that, all are forgotten at once,
/// which bounds the memory of a long run without bookkeeping. Keep one in a `thread_local!`.
pub(crate) struct Remembered<V> {
    answers: RefCell<HashMap<String, V>>,
    limit: usize,
}

impl<V: Clone> Remembered<V> {
    pub(crate) fn new(limit: usize) -> Self {
        Remembered {
            answers: RefCell::new(HashMap::new()),
            limit,
        }
    }

    /// The answer for `key`, from `answer` the first time. `answer` may use other `Remembered`s, not this one.
    pub(crate) fn get(&self, key: &str, answer: impl FnOnce() -> V) -> V {
        if let Some(known) = self.answers.borrow().get(key) {
            return known.clone();
        }
        let value = answer();
        let mut answers = self.answers.borrow_mut();
        if answers.len() >= self.limit {
            answers.clear();
        }
        answers.insert(key.to_owned(), value.clone());
        value
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    // An answer is worked out once, and the memory stays bounded: past the limit everything is forgotten.
    #[test]
    fn answers_once_up_to_the_limit() {
        let memo = Remembered::new(2);
        let asked = Cell::new(0);
        let ask = |key: &str| {
            memo.get(key, || {
                asked.set(asked.get() + 1);
                key.len()
            })
        };
        assert_eq!((ask("a"), ask("bb"), ask("a")), (1, 2, 1));
        assert_eq!(asked.get(), 2);
        assert_eq!(ask("ccc"), 3);
        assert_eq!(memo.answers.borrow().len(), 1);
        assert_eq!(ask("a"), 1);
        assert_eq!(asked.get(), 4);
    }
}
