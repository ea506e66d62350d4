"""The canonical columns of each input layer, their Chinese aliases, and value vocabularies.

``docs/data.md`` documents the same tables for users; this module is what the
readers use.
"""

from __future__ import annotations

# layer -> canonical column -> aliases (matched case-insensitively, whitespace stripped)
COLUMNS: dict[str, dict[str, tuple[str, ...]]] = {
    "districts": {
        "code": ("代码", "adcode", "区划代码", "district_code", "district_adcode"),
        "name": ("名称", "区县", "district_name"),
    },
    "streets": {
        "code": ("代码", "街道代码", "street_code"),
        "name": ("名称", "街道", "镇", "street_name"),
        "district": ("区县", "区县代码", "district_code"),
    },
    "communities": {
        "id": ("编号", "社区代码", "code", "统计用区划代码"),
        "name": ("名称", "社区", "社区名称"),
        "district": ("区县", "区县代码"),
        "street": ("街道", "镇", "街道/镇"),
        "urban_rural": ("城乡分类", "城乡分类代码", "class"),
        "population": ("人口", "常住人口", "pop", "总人口"),
        "pop_60plus": ("60岁以上人口", "老年人口", "pop_60", "pop60"),
        "pop_0_3": ("0-3岁人口", "婴幼儿", "婴幼儿人口", "pop_0_3y", "pop03"),
        "households": ("户数", "hh"),
    },
    "facilities": {
        "id": ("编号",),
        "name": ("名称",),
        "kind": ("类型", "type"),
        "floor_area_m2": ("建筑面积", "面积", "floor_area", "area_m2"),
        "beds": ("床位", "床位数"),
        "places": ("托位", "托位数"),
        "ownership": ("性质", "owner"),
        "district": ("区县",),
        "nursing_beds": ("护理型床位", "护理床位", "护理型床位数"),
        "demonstration": ("示范", "示范性", "示范养老院", "is_demonstration"),
    },
    "candidates": {
        "id": ("编号",),
        "name": ("名称",),
        "kinds": ("可建类型", "kind", "类型"),
        "floor_area_m2": ("建筑面积", "面积", "floor_area", "area_m2"),
        "acquisition": ("取得方式", "acquisition_type"),
        "cost_yuan": ("费用", "造价", "cost"),
        "district": ("区县",),
        "meal_point": ("助餐点", "老年助餐点"),
        "care_home_upgrade": ("敬老院改造", "敬老院改造提升"),
        "medical": ("医养结合", "医疗设置"),
        "medical_agreements": ("医养结合协议", "医养协议"),
        "childcare_star": ("托育星级", "星级"),
        "meal_diner_days": ("就餐人天", "助餐人天"),
    },
    "population_grid": {
        "population": ("人口", "pop", "总人口"),
        "pop_60plus": ("60岁以上人口", "老年人口", "pop_60", "pop60"),
        "pop_0_3": ("0-3岁人口", "婴幼儿", "pop03"),
    },
}

REQUIRED: dict[str, tuple[str, ...]] = {
    "districts": ("code", "name"),
    "streets": ("code", "name", "district"),
    "communities": ("id", "name", "district", "urban_rural", "population", "pop_60plus", "pop_0_3"),
    "facilities": ("id", "kind", "floor_area_m2"),
    "candidates": ("id", "kinds", "floor_area_m2"),
    "population_grid": ("population",),
}

# numeric columns: (column, must be > 0 rather than >= 0)
NUMERIC: dict[str, tuple[tuple[str, bool], ...]] = {
    "communities": (("population", False), ("pop_60plus", False), ("pop_0_3", False), ("households", False)),
    "facilities": (("floor_area_m2", False), ("beds", False), ("places", False),
                   ("nursing_beds", False)),
    "candidates": (("floor_area_m2", True), ("cost_yuan", False), ("medical_agreements", False),
                   ("meal_diner_days", False)),
    "population_grid": (("population", False), ("pop_60plus", False), ("pop_0_3", False)),
}

GEOMETRY: dict[str, tuple[str, ...]] = {
    "districts": ("Polygon", "MultiPolygon"),
    "streets": ("Polygon", "MultiPolygon", "Point"),
    "communities": ("Point", "Polygon", "MultiPolygon"),
    # a building's outline (an OSM extract's) stands for the building: a point inside it
    "facilities": ("Point", "Polygon", "MultiPolygon"),
    "candidates": ("Point", "Polygon", "MultiPolygon"),
    "population_grid": ("Point", "Polygon"),
}

LAYER_ZH = {
    "districts": "区县",
    "streets": "街道/镇",
    "communities": "社区/村",
    "facilities": "现有设施",
    "candidates": "候选场地",
    "population_grid": "人口格网",
    "network": "步行路网",
}

URBAN_WORDS = {"urban", "城市", "城镇", "社区", "u"}
RURAL_WORDS = {"rural", "农村", "乡村", "村", "r"}

FACILITY_KINDS: dict[str, str] = {
    "elderly": "elderly", "养老": "elderly", "社区养老服务站": "elderly", "养老服务站": "elderly",
    "日间照料中心": "elderly", "community_station": "elderly",
    "childcare": "childcare", "托育": "childcare", "托育机构": "childcare",
    "street_centre": "street_centre", "street_center": "street_centre",
    "综合养老服务中心": "street_centre", "街道综合养老服务中心": "street_centre",
    "镇(街道)综合养老服务中心": "street_centre", "综合中心": "street_centre",
    "institution": "institution", "养老机构": "institution", "养老院": "institution",
    "kindergarten_tuoban": "kindergarten_tuoban", "幼儿园托班": "kindergarten_tuoban",
    "幼儿园(托班)": "kindergarten_tuoban", "托班": "kindergarten_tuoban",
    "敬老院": "institution", "护理院": "institution",
    "rural_home": "rural_home", "农村幸福院": "rural_home", "农村互助幸福院": "rural_home",
    "互助幸福院": "rural_home", "幸福院": "rural_home", "rural_happiness_home": "rural_home",
}
CANDIDATE_KINDS = ("elderly", "childcare", "street_centre", "institution", "rural_home")

TRUE_WORDS = {"true", "yes", "y", "1", "是", "有", "t"}
FALSE_WORDS = {"false", "no", "n", "0", "否", "无", "f"}
#: Medical services an institution sets up (attachment 1 (二十四)).
MEDICAL: dict[str, str] = {
    "clinic": "clinic", "医务室": "clinic", "诊疗室": "clinic", "护理站": "clinic",
    "rehab_centre": "rehab_centre", "rehab_center": "rehab_centre", "康复医疗中心": "rehab_centre",
    "护理中心": "rehab_centre",
    "hospital": "hospital", "老年专科医院": "hospital", "一级以上综合医院": "hospital",
    "综合医院": "hospital",
}
CHILDCARE_STARS: dict[str, int] = {
    "3": 3, "4": 4, "5": 5, "三星": 3, "四星": 4, "五星": 5, "三星级": 3, "四星级": 4, "五星级": 5,
}

ACQUISITION: dict[str, str] = {
    "new": "new", "新建": "new", "renovate": "renovate", "改造": "renovate",
    "存量改造": "renovate", "改造存量": "renovate", "lease": "lease", "租赁": "lease",
}

OWNERSHIP: dict[str, str] = {
    "public": "public", "公办": "public", "public_private": "public_private",
    "公建民营": "public_private", "private": "private", "民办": "private",
}
