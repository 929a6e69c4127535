//! Translations: every user-facing string in Arabic and English, through
//! Fluent (`locales/{en,ar}/tahseel.ftl`).

use std::sync::OnceLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Arabic is the hub's first language.
    #[default]
    Ar,
    En,
}

impl Lang {
    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "ar" => Some(Lang::Ar),
            "en" => Some(Lang::En),
            _ => None,
        }
    }
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ar => "ar",
            Lang::En => "en",
        }
    }
    pub fn is_rtl(self) -> bool {
        self == Lang::Ar
    }
}

fn bundle(lang: Lang) -> &'static FluentBundle<FluentResource> {
    static AR: OnceLock<FluentBundle<FluentResource>> = OnceLock::new();
    static EN: OnceLock<FluentBundle<FluentResource>> = OnceLock::new();
    let (cell, source) = match lang {
        Lang::Ar => (&AR, include_str!("../locales/ar/tahseel.ftl")),
        Lang::En => (&EN, include_str!("../locales/en/tahseel.ftl")),
    };
    cell.get_or_init(|| {
        let resource = FluentResource::try_new(source.to_owned()).expect("translation files parse");
        let mut bundle =
            FluentBundle::new_concurrent(vec![lang.code().parse().expect("language tag")]);
        // Plain text for terminals, files and HTML that sets its own direction.
        bundle.set_use_isolating(false);
        bundle
            .add_resource(resource)
            .expect("no duplicate message ids");
        bundle
    })
}

/// The message `id` in `lang`, with named arguments; the id itself when
/// the catalog has no such message.
pub fn t(lang: Lang, id: &str, args: &[(&str, String)]) -> String {
    try_t(lang, id, args).unwrap_or_else(|| id.to_owned())
}

/// The message `id` in `lang`, if the catalog has it.
pub fn try_t(lang: Lang, id: &str, args: &[(&str, String)]) -> Option<String> {
    let bundle = bundle(lang);
    let pattern = bundle.get_message(id).and_then(|m| m.value())?;
    let mut fargs = FluentArgs::new();
    for (k, v) in args {
        // Whole numbers go in as numbers, so plural forms can select on them.
        match v.parse::<i64>() {
            Ok(n) => fargs.set(*k, FluentValue::from(n)),
            Err(_) => fargs.set(*k, FluentValue::from(v.clone())),
        }
    }
    let mut errors = vec![];
    Some(
        bundle
            .format_pattern(pattern, Some(&fargs), &mut errors)
            .into_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every message in one language exists in the other.
    #[test]
    fn both_languages_have_the_same_messages() {
        let ids = |src: &str| -> Vec<String> {
            let mut v: Vec<String> = src
                .lines()
                .filter(|l| !l.starts_with('#') && !l.starts_with(' ') && l.contains(" = "))
                .map(|l| l.split(" = ").next().unwrap().trim().to_owned())
                .collect();
            v.sort();
            v
        };
        assert_eq!(
            ids(include_str!("../locales/en/tahseel.ftl")),
            ids(include_str!("../locales/ar/tahseel.ftl"))
        );
        assert_eq!(t(Lang::En, "channel-mobile", &[]), "Smart-device apps");
        assert_eq!(t(Lang::Ar, "month-6", &[]), "يونيو");
    }
}
