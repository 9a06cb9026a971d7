package dev.mgmstream.model.vision;

import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * Names what some bytes probably are when no accepted image reader claims them, so that a rejection says
 * "looks like a PDF document" rather than just "unsupported". Only a guess for the message: acceptance is
 * decided by the image readers alone.
 */
final class FormatSniffer {

    private FormatSniffer() {
    }

    static String describe(byte[] b) {
        if (startsWith(b, 0, "%PDF")) {
            return "looks like a PDF document";
        }
        if (startsWith(b, 4, "ftyp")) {
            String brand = ascii(b, 8, 4).toLowerCase(Locale.ROOT);
            if (brand.startsWith("hei") || brand.startsWith("hev") || brand.startsWith("mif")) {
                return "looks like a HEIF/HEIC image";
            }
            if (brand.startsWith("avi")) {
                return "looks like an AVIF image";
            }
            return "looks like an ISO media file (" + brand.trim() + ")";
        }
        if (startsWith(b, 0, "PK\u0003\u0004")) {
            return "looks like a ZIP archive";
        }
        if (startsWith(b, 0, "8BPS")) {
            return "looks like a Photoshop document";
        }
        if (b.length >= 2 && (b[0] & 0xFF) == 0xFF && (b[1] & 0xFF) == 0xD8) {
            return "starts like a JPEG but no JPEG decoder accepts it";
        }
        String head = ascii(b, 0, Math.min(b.length, 1024)).toLowerCase(Locale.ROOT);
        if (head.contains("<svg")) {
            return "looks like an SVG drawing (vector images are not rendered)";
        }
        if (head.startsWith("<?xml") || head.startsWith("<!doctype html") || head.startsWith("<html")) {
            return "looks like an XML or HTML document";
        }
        if (mostlyText(b)) {
            return "looks like text, not an image";
        }
        return "unrecognised binary data";
    }

    private static boolean startsWith(byte[] b, int offset, String magic) {
        if (b.length < offset + magic.length()) {
            return false;
        }
        for (int i = 0; i < magic.length(); i++) {
            if (b[offset + i] != (byte) magic.charAt(i)) {
                return false;
            }
        }
        return true;
    }

    private static String ascii(byte[] b, int offset, int len) {
        if (b.length < offset + len) {
            return "";
        }
        return new String(b, offset, len, StandardCharsets.ISO_8859_1);
    }

    private static boolean mostlyText(byte[] b) {
        int n = Math.min(b.length, 512);
        int printable = 0;
        for (int i = 0; i < n; i++) {
            int c = b[i] & 0xFF;
            if (c == '\n' || c == '\r' || c == '\t' || (c >= 0x20 && c < 0x7F) || c >= 0xC2) {
                printable++;
            }
        }
        return n > 0 && printable >= n * 0.95;
    }
}
