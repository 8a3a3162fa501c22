//! Comparing lists AWS reports in its own order and grouping with the lists a spec wrote.

use std::collections::BTreeSet;

/// What the provider reports for a list property: the spec's own list (`known`) when it
/// holds the same items as `observed` in any order or grouping, else what AWS reports. So a
/// reordered list is no change, and a real difference shows as drift.
pub fn keep_shape<T: Clone, K: Ord>(
    known: &Option<Vec<T>>,
    observed: Vec<T>,
    items: impl Fn(&[T]) -> BTreeSet<K>,
) -> Option<Vec<T>> {
    match known {
        Some(known) if items(known) == items(&observed) => Some(known.clone()),
        _ => Some(observed),
    }
}

/// The distinct strings of a list.
pub fn strings(list: &[String]) -> BTreeSet<String> {
    list.iter().cloned().collect()
}

/// What to add and what to remove to go from `old` to `new`.
pub fn changes<K: Ord + Clone>(old: &BTreeSet<K>, new: &BTreeSet<K>) -> (Vec<K>, Vec<K>) {
    (
        new.difference(old).cloned().collect(),
        old.difference(new).cloned().collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_known_order_is_kept_for_the_same_items_only() {
        let known = Some(vec!["b".to_string(), "a".to_string()]);
        let same = keep_shape(&known, vec!["a".into(), "b".into()], strings);
        assert_eq!(same, known);
        let drifted = keep_shape(&known, vec!["a".into()], strings);
        assert_eq!(drifted, Some(vec!["a".to_string()]));
    }

    #[test]
    fn changes_are_additions_and_removals() {
        let old: BTreeSet<u8> = [1, 2].into();
        let new: BTreeSet<u8> = [2, 3].into();
        assert_eq!(changes(&old, &new), (vec![3], vec![1]));
    }
}
