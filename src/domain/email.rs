//! Email address syntax, close to the `validator` package's `isEmail` defaults the original used.

/// Whether `text` looks like a deliverable address: `local@domain.tld`.
pub fn is_email(text: &str) -> bool {
    if text.len() > 254 || text.chars().any(char::is_whitespace) {
        return false;
    }
    let Some((local, domain)) = text.rsplit_once('@') else {
        return false;
    };
    local_part_ok(local) && domain_ok(domain)
}

fn local_part_ok(local: &str) -> bool {
    const SPECIALS: &str = "!#$%&'*+-/=?^_`{|}~";
    !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_alphanumeric() || c == '.' || SPECIALS.contains(c))
}

fn domain_ok(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    let Some(tld) = labels.last() else {
        return false;
    };
    let tld_ok = tld.chars().count() >= 2
        && (tld.chars().all(char::is_alphabetic) || tld.starts_with("xn--"));
    labels.len() >= 2
        && tld_ok
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
}

#[cfg(test)]
mod tests {
    use super::is_email;

    #[test]
    fn ordinary_addresses_pass() {
        for ok in [
            "user1@test.com",
            "a.b+tag@mail.example.org",
            "loadtest17@test.com",
        ] {
            assert!(is_email(ok), "{ok}");
        }
    }

    #[test]
    fn malformed_addresses_fail() {
        for bad in [
            "user1",
            "@test.com",
            "a@b",
            "a@b.c",
            "a b@test.com",
            "a..b@test.com",
            "a@-x.com",
            "",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
    }
}
