//! Pages of a list, numbered the way Django REST framework's `PageNumberPagination` numbers
//! them (`page` from 1, `page_size` up to a maximum), so DRF clients page through unchanged.

use crate::error::{CoreError, FieldErrorsBuilder};

pub const DEFAULT_PAGE_SIZE: u32 = 20;
pub const MAX_PAGE_SIZE: u32 = 100;

/// A checked page request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRequest {
    pub page: u32,
    pub page_size: u32,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self { page: 1, page_size: DEFAULT_PAGE_SIZE }
    }
}

impl PageRequest {
    /// `page` ≥ 1 and 1 ≤ `page_size` ≤ [`MAX_PAGE_SIZE`]; absent values take the defaults.
    pub fn parse(page: Option<&str>, page_size: Option<&str>) -> Result<Self, CoreError> {
        let mut errors = FieldErrorsBuilder::default();
        let number = |raw: Option<&str>, default: u32, max: u32| -> Result<u32, Vec<String>> {
            match raw.map(str::trim).filter(|r| !r.is_empty()) {
                None => Ok(default),
                Some(raw) => match raw.parse::<u32>() {
                    Ok(n) if n >= 1 && n <= max => Ok(n),
                    _ => Err(vec![format!("Enter a whole number from 1 to {max}.")]),
                },
            }
        };
        let page = errors.check("page", number(page, 1, u32::MAX));
        let page_size = errors.check("page_size", number(page_size, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE));
        errors.finish()?;
        Ok(Self { page: page.unwrap(), page_size: page_size.unwrap() })
    }

    pub fn offset(&self) -> i64 {
        (i64::from(self.page) - 1) * i64::from(self.page_size)
    }

    pub fn limit(&self) -> i64 {
        i64::from(self.page_size)
    }
}

/// One page of results and where it stands in the whole list.
#[derive(Clone, Debug)]
pub struct Page<T> {
    pub count: i64,
    pub request: PageRequest,
    pub results: Vec<T>,
}

impl<T> Page<T> {
    pub fn next(&self) -> Option<u32> {
        // `then`, not `then_some`: on page u32::MAX the `+ 1` must not even be computed.
        (self.request.offset() + self.request.limit() < self.count).then(|| self.request.page + 1)
    }

    pub fn previous(&self) -> Option<u32> {
        (self.request.page > 1).then(|| self.request.page - 1)
    }

    /// How many pages the whole list fills (at least one, even when empty).
    pub fn pages(&self) -> u32 {
        let size = i64::from(self.request.page_size);
        u32::try_from(((self.count + size - 1) / size).max(1)).unwrap_or(u32::MAX)
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page { count: self.count, request: self.request, results: self.results.into_iter().map(f).collect() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_possible_page_has_no_next_and_does_not_overflow() {
        let request = PageRequest::parse(Some("4294967295"), Some("1")).unwrap();
        let page = Page { count: 5, request, results: Vec::<()>::new() };
        assert_eq!(page.next(), None);
        assert_eq!(page.previous(), Some(u32::MAX - 1));
    }

    #[test]
    fn pages_are_checked_and_linked() {
        assert_eq!(PageRequest::parse(None, None).unwrap(), PageRequest { page: 1, page_size: 20 });
        for (page, size) in [(Some("0"), None), (Some("x"), None), (None, Some("101")), (Some("-1"), Some("0"))] {
            assert!(PageRequest::parse(page, size).is_err(), "{page:?} {size:?}");
        }
        let request = PageRequest::parse(Some("2"), Some("10")).unwrap();
        let page = Page { count: 25, request, results: vec![()] };
        assert_eq!((page.previous(), page.next(), page.pages()), (Some(1), Some(3), 3));
        let last = Page { count: 20, request, results: vec![()] };
        assert_eq!(last.next(), None);
    }
}
