pub const VALUE_UNKNOWN: &str = "UNKNOWN";
