import PDFDocument from 'pdfkit';

/** A real PDF of `pages` pages, a line of text on each, as pdfkit writes it (plain objects, no object streams). */
export async function makePdf(pages: number, options: PDFKit.PDFDocumentOptions = {}): Promise<Buffer> {
  const document = new PDFDocument({ autoFirstPage: false, ...options });
  const parts: Buffer[] = [];
  document.on('data', (part: Buffer) => parts.push(part));
  const ended = new Promise((resolve) => document.on('end', resolve));
  for (let page = 1; page <= pages; page += 1) document.addPage().text(`Page ${page} of ${pages}`);
  document.end();
  await ended;
  return Buffer.concat(parts);
}
