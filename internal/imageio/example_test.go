package imageio_test

import (
	"bytes"
	"fmt"
	"image"
	"image/color/palette"
	"image/gif"
	"image/png"

	"github.com/oneface/oneface/internal/imageio"
)

func Example() {
	var b bytes.Buffer
	png.Encode(&b, image.NewGray16(image.Rect(0, 0, 640, 480)))
	img, info, err := imageio.Decode(b.Bytes(), imageio.Limits{})
	fmt.Printf("%s %v %T %v\n", info.Format, img.Bounds().Size(), img, err)

	b.Reset()
	gif.Encode(&b, image.NewPaletted(image.Rect(0, 0, 8, 8), palette.Plan9), nil)
	_, _, err = imageio.Decode(b.Bytes(), imageio.Limits{})
	fmt.Println(err)

	fmt.Println(imageio.Limits{}.Check(65535, 2))
	// Output:
	// PNG (640,480) *image.RGBA <nil>
	// imageio: unsupported format: GIF, re-save as JPEG or PNG
	// imageio: image too large: 65535x2 pixels, a side over 16384
}
