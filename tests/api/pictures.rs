//! The seeded pictures have the original's shapes, so the original frontend lays out as designed
//! (issue 15): event pictures portrait, about 308×520 (list and detail alike), and the seat map
//! about 524×720 on a dark background (an 800×600 white map overlapped the seat grid).

use std::collections::HashMap;
use std::io::Read;

use reqwest::StatusCode;

use crate::helpers::{TestApp, spawn_app};

/// A decoded picture: its size and one RGB triple per pixel, row by row.
struct Picture {
    width: usize,
    height: usize,
    pixels: Vec<[u8; 3]>,
}

impl Picture {
    /// The colour most pixels have: the background of a drawing.
    fn commonest_colour(&self) -> [u8; 3] {
        let mut counts: HashMap<[u8; 3], usize> = HashMap::new();
        for p in &self.pixels {
            *counts.entry(*p).or_default() += 1;
        }
        counts
            .into_iter()
            .max_by_key(|(_, n)| *n)
            .map(|(colour, _)| colour)
            .expect("a picture has pixels")
    }

    fn at(&self, x: usize, y: usize) -> [u8; 3] {
        self.pixels[y * self.width + x]
    }
}

/// Relative luminance on a 0–255 scale (Rec. 709 weights).
fn luminance([r, g, b]: [u8; 3]) -> f64 {
    0.2126 * f64::from(r) + 0.7152 * f64::from(g) + 0.0722 * f64::from(b)
}

fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let (ia, ib, ic) = (i16::from(a), i16::from(b), i16::from(c));
    let p = ia + ib - ic;
    let (pa, pb, pc) = ((p - ia).abs(), (p - ib).abs(), (p - ic).abs());
    if pa <= pb && pa <= pc {
        a
    } else if pb <= pc {
        b
    } else {
        c
    }
}

/// Decodes an 8-bit, non-interlaced PNG (palette, RGB or RGBA) with every row filter, enough to
/// read any picture an encoder would write for these files.
fn decode_png(bytes: &[u8]) -> Picture {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "a PNG signature");
    let (mut width, mut height, mut colour_type) = (0, 0, 0);
    let (mut palette, mut data) = (Vec::new(), Vec::new());
    let mut at = 8;
    while at + 8 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[at..at + 4].try_into().expect("4 bytes")) as usize;
        let kind = &bytes[at + 4..at + 8];
        let body = &bytes[at + 8..at + 8 + len];
        match kind {
            b"IHDR" => {
                width = u32::from_be_bytes(body[0..4].try_into().expect("4 bytes")) as usize;
                height = u32::from_be_bytes(body[4..8].try_into().expect("4 bytes")) as usize;
                assert_eq!(body[8], 8, "bit depth 8");
                colour_type = body[9];
                assert_eq!(body[12], 0, "not interlaced");
            }
            b"PLTE" => palette = body.chunks(3).map(|c| [c[0], c[1], c[2]]).collect(),
            b"IDAT" => data.extend_from_slice(body),
            b"IEND" => break,
            _ => {}
        }
        at += 12 + len;
    }
    let channels = match colour_type {
        3 => 1,
        2 => 3,
        6 => 4,
        other => panic!("colour type {other} is not decoded here"),
    };
    let mut raw = Vec::new();
    flate2::read::ZlibDecoder::new(&data[..])
        .read_to_end(&mut raw)
        .expect("the image data inflates");
    let stride = width * channels;
    assert_eq!(raw.len(), height * (stride + 1), "one filter byte per row");
    let mut rows: Vec<u8> = Vec::with_capacity(height * stride);
    for y in 0..height {
        let filter = raw[y * (stride + 1)];
        let line = &raw[y * (stride + 1) + 1..(y + 1) * (stride + 1)];
        for x in 0..stride {
            let left = if x >= channels {
                rows[y * stride + x - channels]
            } else {
                0
            };
            let up = if y > 0 { rows[(y - 1) * stride + x] } else { 0 };
            let up_left = if y > 0 && x >= channels {
                rows[(y - 1) * stride + x - channels]
            } else {
                0
            };
            let predicted = match filter {
                0 => 0,
                1 => left,
                2 => up,
                3 => ((u16::from(left) + u16::from(up)) / 2) as u8,
                4 => paeth(left, up, up_left),
                other => panic!("row filter {other}"),
            };
            rows.push(line[x].wrapping_add(predicted));
        }
    }
    let pixels = rows
        .chunks(channels)
        .map(|p| match channels {
            1 => palette[usize::from(p[0])],
            _ => [p[0], p[1], p[2]],
        })
        .collect();
    Picture {
        width,
        height,
        pixels,
    }
}

/// Fetches a picture by the URL the API gave for it.
async fn fetch_picture(app: &TestApp, url: &serde_json::Value) -> Picture {
    let url = url.as_str().expect("a picture URL");
    assert!(url.starts_with(&app.base), "{url} is served by the app");
    let res = app.client.get(url).send().await.expect("sent");
    assert_eq!(res.status(), StatusCode::OK, "{url}");
    assert_eq!(res.headers()["content-type"], "image/png", "{url}");
    decode_png(&res.bytes().await.expect("bytes"))
}

/// Within 5 % of the original's size: the frontend's layout depends on the shape.
fn assert_about(picture: &Picture, (width, height): (usize, usize), what: &str) {
    let near = |got: usize, want: usize| got.abs_diff(want) * 20 <= want;
    assert!(
        near(picture.width, width) && near(picture.height, height),
        "{what} is {}x{}, not about {width}x{height}",
        picture.width,
        picture.height
    );
}

#[tokio::test]
async fn seeded_pictures_have_the_original_shapes_and_the_seat_map_a_dark_background() {
    let app = spawn_app().await;
    let events = app.get("/event").await.body;
    let events = events.as_array().expect("an event list");
    assert_eq!(events.len(), 8);
    for event in events {
        let id = event["id"].as_i64().expect("an id");
        let card = fetch_picture(&app, &event["picture"]).await;
        assert_about(&card, (308, 520), &format!("event {id}'s list picture"));
        let detail = app.get(&format!("/event/{id}")).await.body;
        let banner = fetch_picture(&app, &detail["detailPicture"]).await;
        assert_about(&banner, (308, 520), &format!("event {id}'s detail picture"));
    }

    let (token, _) = app.sign_up("pictures").await;
    let areas = app.get_as("/area/1", &token).await.body;
    let map = fetch_picture(&app, &areas["seatPicture"]).await;
    assert_about(&map, (524, 720), "the seat map");
    let ground = map.commonest_colour();
    assert!(
        luminance(ground) < 60.0,
        "the seat map's background {ground:?} is not dark"
    );
    for (x, y) in [
        (0, 0),
        (map.width - 1, 0),
        (0, map.height - 1),
        (map.width - 1, map.height - 1),
    ] {
        assert!(
            luminance(map.at(x, y)) < 60.0,
            "the seat map's corner ({x}, {y}) is {:?}, not dark",
            map.at(x, y)
        );
    }
}
