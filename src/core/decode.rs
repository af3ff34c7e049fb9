//! Content-Encoding decoding (identity, gzip, x-gzip, deflate, br, zstd) with the output capped
//! while streaming: a decompression bomb costs at most `cap` bytes before it is refused.

use std::io::Read;

use super::outcome::{Oversized, Reject};

/// At most this many stacked codings (clients use one).
pub const MAX_CODINGS: usize = 4;

/// Decodes `body` per the `Content-Encoding` header value (codings applied in listed order,
/// so they are undone in reverse), refusing any stage whose output would exceed `cap` bytes.
pub fn decode_body(content_encoding: Option<&str>, body: &[u8], cap: usize) -> Result<Vec<u8>, Reject> {
    let codings: Vec<String> = content_encoding
        .unwrap_or("")
        .split(',')
        .map(|c| c.trim().to_ascii_lowercase())
        // sentry-ruby 5 sends an empty value and sentry-java android 2 sends "UTF-8": Relay ignores both.
        .filter(|c| !c.is_empty() && c != "identity" && c != "utf-8")
        .collect();
    if codings.len() > MAX_CODINGS {
        return Err(Reject::BadEncoding(format!("more than {MAX_CODINGS} content codings")));
    }
    if codings.is_empty() {
        return if body.len() > cap { Err(too_large(cap)) } else { Ok(body.to_vec()) };
    }
    let mut data = body.to_vec();
    for coding in codings.iter().rev() {
        data = decode_one(coding, &data, cap)?;
    }
    Ok(data)
}

fn decode_one(coding: &str, input: &[u8], cap: usize) -> Result<Vec<u8>, Reject> {
    match coding {
        "gzip" | "x-gzip" => read_capped(flate2::read::MultiGzDecoder::new(input), cap),
        "deflate" if looks_like_zlib(input) => read_capped(flate2::read::ZlibDecoder::new(input), cap),
        "deflate" => read_capped(flate2::read::DeflateDecoder::new(input), cap),
        // RFC 7932 windows are at most 16 MiB; the decoder would also take "large window"
        // streams (WBITS pattern 0x11, up to 1 GiB) and size its ring buffer from the header.
        "br" if input.first().is_some_and(|b| b & 0x7f == 0x11) => {
            Err(Reject::BadEncoding("large-window brotli is not accepted".into()))
        }
        "br" => read_capped(brotli_decompressor::Decompressor::new(input, 8192), cap),
        "zstd" => {
            let decoder =
                ruzstd::decoding::StreamingDecoder::new(input).map_err(|e| Reject::BadEncoding(e.to_string()))?;
            read_capped(decoder, cap)
        }
        other => Err(Reject::UnsupportedEncoding(other.to_string())),
    }
}

/// HTTP `deflate` is meant to be zlib-wrapped, but some clients send a raw stream.
fn looks_like_zlib(input: &[u8]) -> bool {
    input.len() >= 2 && input[0] & 0x0f == 8 && (u16::from(input[0]) << 8 | u16::from(input[1])) % 31 == 0
}

/// Reads at most `cap` bytes; one byte more means the stream is over the limit.
fn read_capped(reader: impl Read, cap: usize) -> Result<Vec<u8>, Reject> {
    let mut out = Vec::new();
    let limit = u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1);
    reader.take(limit).read_to_end(&mut out).map_err(|e| Reject::BadEncoding(e.to_string()))?;
    if out.len() > cap {
        return Err(too_large(cap));
    }
    Ok(out)
}

fn too_large(cap: usize) -> Reject {
    Reject::TooLarge { what: Oversized::Body, limit: cap }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn decodes_gzip_and_deflate_variants() {
        let text = b"hello envelope".repeat(10);
        assert_eq!(decode_body(Some("gzip"), &gzip(&text), 1 << 20).unwrap(), text);
        assert_eq!(decode_body(Some("x-gzip"), &gzip(&text), 1 << 20).unwrap(), text);
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&text).unwrap();
        assert_eq!(decode_body(Some("deflate"), &z.finish().unwrap(), 1 << 20).unwrap(), text);
        let mut d = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        d.write_all(&text).unwrap();
        assert_eq!(decode_body(Some("deflate"), &d.finish().unwrap(), 1 << 20).unwrap(), text);
        assert_eq!(decode_body(Some("identity"), &text, 1 << 20).unwrap(), text);
        assert_eq!(decode_body(None, &text, 1 << 20).unwrap(), text);
    }

    #[test]
    fn bogus_encodings_that_sdks_send_are_ignored() {
        assert_eq!(decode_body(Some(""), b"{}", 10).unwrap(), b"{}");
        assert_eq!(decode_body(Some("UTF-8"), b"{}", 10).unwrap(), b"{}");
    }

    #[test]
    fn decodes_zstd() {
        // `zstd -c` of "hello zstd\n", made with the reference CLI.
        let frame = [
            0x28, 0xb5, 0x2f, 0xfd, 0x04, 0x58, 0x59, 0x00, 0x00, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x20, 0x7a, 0x73, 0x74,
            0x64, 0x0a, 0x6c, 0x57, 0xf9, 0x51,
        ];
        assert_eq!(decode_body(Some("zstd"), &frame, 100).unwrap(), b"hello zstd\n");
        assert_eq!(decode_body(Some("zstd"), b"not zstd", 100).unwrap_err().status(), 400);
    }

    /// Found by `scripts/fuzz 600` (decode target, out of memory): 13 bytes of large-window
    /// brotli made the decoder allocate a 512 MiB ring buffer, which would end a Workers isolate.
    #[test]
    fn regression_large_window_brotli_allocated_512_mib() {
        let bomb = b"\x11\x1d\x00\x11\x01\x00\xec\x00\x00\x00\x00\x00\x45";
        let refused = decode_body(Some("br"), bomb, 1 << 20).unwrap_err();
        assert_eq!(refused.code(), "bad_encoding");
        // Ordinary brotli still decodes.
        let mut small = Vec::new();
        brotli_decompressor::BrotliDecompress(&mut &b"\x0b\x02\x80hello\x03"[..], &mut small).unwrap();
        assert_eq!(decode_body(Some("br"), b"\x0b\x02\x80hello\x03", 100).unwrap(), small);
    }

    #[test]
    fn stacked_codings_are_undone_in_reverse() {
        let text = b"twice".to_vec();
        assert_eq!(decode_body(Some("gzip, gzip"), &gzip(&gzip(&text)), 100).unwrap(), text);
    }

    #[test]
    fn a_bomb_is_refused_at_the_cap() {
        let bomb = gzip(&vec![0u8; 8 << 20]);
        assert!(bomb.len() < 64 << 10);
        let err = decode_body(Some("gzip"), &bomb, 1 << 20).unwrap_err();
        assert_eq!(err.status(), 413);
    }

    #[test]
    fn broken_streams_and_unknown_codings_are_refused() {
        assert_eq!(decode_body(Some("gzip"), b"not gzip at all", 100).unwrap_err().status(), 400);
        assert_eq!(decode_body(Some("compress"), b"x", 100).unwrap_err().status(), 415);
        assert_eq!(decode_body(None, &[0; 101], 100).unwrap_err().status(), 413);
    }
}
