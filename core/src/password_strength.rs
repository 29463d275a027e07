//! How hard a password is to guess, as a meter for the forms that set one (`zxcvbn`: 0–4 with
//! advice). Advisory: what a password must satisfy is `domain::PasswordPolicy`. Runs on the
//! server only, so its dictionaries stay out of the browser bundle.

/// The meter's reading. No serde: the web app sends its own view of it (`StrengthView`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Strength {
    /// 0 (guessed at once) to 4 (very hard to guess).
    pub score: u8,
    /// "Very weak" … "Strong".
    pub label: String,
    /// What would make it stronger, if anything.
    pub advice: Option<String>,
}

/// The strength of `password` for an account with these details (email, username, names),
/// which a guesser would try first.
pub fn estimate(password: &str, personal: &[&str]) -> Strength {
    // Beyond this, zxcvbn's work grows with no change in the verdict.
    let password: String = password.chars().take(100).collect();
    let entropy = zxcvbn::zxcvbn(&password, personal);
    let score = entropy.score() as u8;
    let label = ["Very weak", "Weak", "Fair", "Good", "Strong"][usize::from(score.min(4))].to_string();
    let advice = entropy
        .feedback()
        .and_then(|f| f.warning().map(|w| w.to_string()).or_else(|| f.suggestions().first().map(ToString::to_string)));
    Strength { score, label, advice }
}

#[cfg(test)]
mod tests {
    use super::estimate;

    #[test]
    fn common_and_personal_passwords_score_low_long_random_ones_high() {
        assert!(estimate("password", &[]).score <= 1);
        assert!(estimate("ada.lovelace1815", &["ada.lovelace@example.com", "ada.lovelace"]).score <= 2);
        let strong = estimate("correct horse battery staple glacier", &[]);
        assert_eq!((strong.score, strong.label.as_str()), (4, "Strong"));
        assert!(estimate("password", &[]).advice.is_some());
    }
}
