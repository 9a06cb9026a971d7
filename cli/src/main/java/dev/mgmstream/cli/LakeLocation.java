package dev.mgmstream.cli;

import java.util.Map;

import dev.mgmstream.lake.LakeSettings;

/** Where the lake table is, in words a user can act on. */
final class LakeLocation {

    private LakeLocation() {
    }

    static String describe(Map<String, String> config) {
        LakeSettings lake = LakeSettings.from(config);
        if (lake.catalogType().equals("hadoop")) {
            String path = lake.warehouse() + "/" + String.join("/", lake.table().namespace().levels()) + "/"
                    + lake.table().name();
            return lake.table() + " at " + path + " (Iceberg, Parquet)";
        }
        return lake.table() + " in the REST catalog " + lake.catalogUri();
    }
}
