//! A small catalogue for the unit tests of loading and routing.

use super::model::Catalogue;

pub const SMALL: &str = r#"
    version = "t1"
    [[categories]]
    code = "utilities"
    name = "水电气热"
    [[categories]]
    code = "heating"
    name = "供暖"
    parent = "utilities"
    [[categories]]
    code = "water"
    name = "供水"
    parent = "utilities"
    [[categories]]
    code = "noise"
    name = "噪声"
    [[categories]]
    code = "consult"
    name = "咨询"
    [[units]]
    id = "heat-co"
    name = "热力集团"
    kind = "utility"
    [[units]]
    id = "cmc"
    name = "城管委"
    [[areas]]
    code = "110105"
    name = "朝阳区"
    kind = "district"
    [[areas]]
    code = "110116"
    name = "怀柔区"
    kind = "district"
    [[areas]]
    code = "110105001"
    name = "建外街道"
    kind = "street"
    parent = "110105"
    [[rules]]
    category = "heating"
    lead = "heat-co"
    co = ["cmc", "heat-co"]
    [[rules]]
    category = "heating"
    area = "110116"
    lead = "@district"
    co = ["heat-co"]
    [[rules]]
    category = "utilities"
    lead = "cmc"
    [[rules]]
    category = "noise"
    lead = "@street"
    co = ["@district"]
"#;

pub fn small() -> Catalogue {
    Catalogue::from_toml(SMALL).unwrap()
}
