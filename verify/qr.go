package verify

import (
	"errors"
	"fmt"
	"image"

	"github.com/makiuchi-d/gozxing"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"
	"github.com/oneface/oneface/internal/ref"
	"github.com/skip2/go-qrcode"
	xdraw "golang.org/x/image/draw"
)

// maxQRPixels bounds the camera frames ReadQR scans.
const maxQRPixels = 40_000_000

// ErrNoQR: no readable QR code in the image.
var ErrNoQR = errors.New("verify: no readable QR code")

// QRCode renders a reference as a PNG QR code, each module modulePixels
// wide (whole pixels keep the code sharp; 6 suits print), with error
// correction level M so a worn card still reads. The code carries the
// binary container in byte mode: the text form's base64 would need a
// larger, denser code (version 22 instead of 19 for one verifier), which
// cameras read less reliably.
func QRCode(sealed []byte, modulePixels int) ([]byte, error) {
	if len(sealed) > ref.MaxSealed {
		return nil, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(sealed))
	}
	if modulePixels < 1 || modulePixels > 64 {
		return nil, fmt.Errorf("verify: QR module size %d px (1..64)", modulePixels)
	}
	return qrcode.Encode(string(sealed), qrcode.Medium, -modulePixels)
}

// ReadQR finds a reference QR code in an image, such as a kiosk camera
// frame showing a card, and returns the binary reference (still sealed:
// pass it to [Opener.Open]).
//
// ZXing's detector is built for cameras that retry on the next frame: a
// single frame can fail on a slightly misjudged module size. ReadQR tries
// a bounded set of views of the frame — full size and scaled down, each
// with ZXing's two binarizers, then as a bare code — and keeps the first
// that decodes. A misread cannot do harm: Open authenticates what it gets.
func ReadQR(img image.Image) ([]byte, error) {
	b := img.Bounds()
	if b.Dx() <= 0 || b.Dy() <= 0 || int64(b.Dx())*int64(b.Dy()) > maxQRPixels {
		return nil, fmt.Errorf("%w: image of %dx%d pixels", ErrTooLarge, b.Dx(), b.Dy())
	}
	var firstErr error
	for _, scale := range []float64{1, 0.75, 0.5, 0.6, 0.9} {
		view := img
		if scale != 1 {
			w, h := int(float64(b.Dx())*scale), int(float64(b.Dy())*scale)
			if w < 21 || h < 21 {
				continue
			}
			small := image.NewGray(image.Rect(0, 0, w, h))
			xdraw.ApproxBiLinear.Scale(small, small.Bounds(), img, b, xdraw.Src, nil)
			view = small
		}
		src := gozxing.NewLuminanceSourceFromImage(view)
		for _, bin := range []gozxing.Binarizer{gozxing.NewHybridBinarizer(src), gozxing.NewGlobalHistgramBinarizer(src)} {
			bmp, err := gozxing.NewBinaryBitmap(bin)
			if err != nil {
				return nil, fmt.Errorf("%w: %v", ErrNoQR, err)
			}
			res, err := zxqr.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true})
			if err == nil {
				return qrBytes(res)
			}
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err == nil {
		res, err := zxqr.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_PURE_BARCODE: true})
		if err == nil {
			return qrBytes(res)
		}
	}
	return nil, fmt.Errorf("%w: %v", ErrNoQR, firstErr)
}

// qrBytes returns the raw bytes of a decoded code: byte-mode segments as
// they are (a binary reference), else the text (a text-form reference).
func qrBytes(res *gozxing.Result) ([]byte, error) {
	if segs, ok := res.GetResultMetadata()[gozxing.ResultMetadataType_BYTE_SEGMENTS].([][]byte); ok && len(segs) > 0 {
		var b []byte
		for _, s := range segs {
			if len(b)+len(s) > ref.MaxSealed {
				return nil, fmt.Errorf("%w: QR code holds more than %d bytes", ErrTooLarge, ref.MaxSealed)
			}
			b = append(b, s...)
		}
		return DecodeReference(b)
	}
	return DecodeReference([]byte(res.GetText()))
}
