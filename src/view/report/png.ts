/**
 * SVG to PNG through resvg (a Rust rasteriser whose binary ships in a per-platform npm package).
 * Loaded lazily: a platform without that package still writes SVG.
 */
import type { Resvg as ResvgClass } from '@resvg/resvg-js';
import { UserError } from '../../domain/errors.js';

/** Render at twice the CSS size, so the image stays sharp on high-density screens. */
const ZOOM = 2;

export async function svgToPng(svg: string): Promise<Uint8Array> {
  let Resvg: typeof ResvgClass;
  try {
    ({ Resvg } = await import('@resvg/resvg-js'));
  } catch (error) {
    throw new UserError('PNG output is not available on this platform (the @resvg/resvg-js binary did not load)', {
      hint: 'write the chart as SVG instead, e.g. --out progress.svg',
      cause: error,
    });
  }
  const resvg = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: ZOOM },
    // Without system fonts the text would vanish; these are the families the SVG asks for.
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' },
    background: '#ffffff',
  });
  return resvg.render().asPng();
}
